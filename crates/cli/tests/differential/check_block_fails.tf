locals {
  n = 3
}
resource "terraform_data" "r" {
  input = local.n
}
check "small" {
  assert {
    condition     = terraform_data.r.output < 2
    error_message = "n is too big"
  }
}
output "n" { value = terraform_data.r.output }
