locals {
  m = { a = 1, b = 2, c = 3 }
}
output "list" { value = [for k, v in local.m : "${k}=${v}" if v > 1] }
output "map" { value = { for k, v in local.m : upper(k) => v * 10 } }
output "group" { value = { for s in ["a1", "a2", "b1"] : substr(s, 0, 1) => s... } }
