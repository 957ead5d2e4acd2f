resource "terraform_data" "c" {
  count = 3
  input = "item-${count.index}"
}
output "all" { value = terraform_data.c[*].output }
output "n" { value = length(terraform_data.c) }
