resource "terraform_data" "e" {
  for_each = { a = 1, b = 2 }
  input    = each.value * 2
}
output "keys" { value = keys(terraform_data.e) }
output "b" { value = terraform_data.e["b"].output }
