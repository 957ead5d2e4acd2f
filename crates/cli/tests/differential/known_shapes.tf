resource "terraform_data" "c" {
  count = 3
  input = "x${count.index}"
}
resource "terraform_data" "e" {
  for_each = toset(["b", "a"])
  input    = each.key
}
# length() and keys() of resources whose attributes are known only after apply are
# known at plan time, so this resource's input is too.
resource "terraform_data" "uses" {
  input = [length(terraform_data.c), keys(terraform_data.e), length(terraform_data.e)]
}
output "shapes" { value = terraform_data.uses.input }
