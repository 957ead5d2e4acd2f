variable "prefix" {}
resource "terraform_data" "r" {
  count = 2
  input = "${var.prefix}-${count.index}"
}
output "outputs" { value = terraform_data.r[*].output }
