resource "terraform_data" "o" {
  input = { list = [1, 2], nested = { k = "v" } }
}
output "nested" { value = terraform_data.o.output.nested.k }
output "list" { value = terraform_data.o.output.list }
