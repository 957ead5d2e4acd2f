resource "terraform_data" "a" {
  input = { name = "x", n = 1 }
}
resource "terraform_data" "b" {
  input = terraform_data.a.output.name
}
output "b" { value = terraform_data.b.output }
