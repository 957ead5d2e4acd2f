resource "terraform_data" "s" {
  for_each = toset(["b", "a"])
  input    = "v-${each.key}"
}
output "out" { value = { for k, r in terraform_data.s : k => r.output } }
