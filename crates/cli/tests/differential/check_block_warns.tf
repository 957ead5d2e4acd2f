locals {
  n = 3
}
check "small" {
  assert {
    condition     = local.n < 2
    error_message = "n is too big"
  }
}
output "n" { value = local.n }
