resource "terraform_data" "first" {
  input = "1"
}
resource "terraform_data" "second" {
  input      = "${terraform_data.first.output}-2"
  depends_on = [terraform_data.first]
}
output "second" { value = terraform_data.second.output }
