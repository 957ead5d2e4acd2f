variable "name" {}
variable "idx" {
  default = 0
}
resource "terraform_data" "inner" {
  input = "${var.name}-${var.idx}"
}
output "out" { value = terraform_data.inner.output }
output "idx" { value = var.idx }
