locals {
  n = 5
}
output "typed" { value = "${local.n}" }
output "list" { value = "${[1, 2]}" }
