locals {
  base     = { a = 1, b = { x = 1 } }
  override = { b = { y = 2 }, c = 3 }
}
output "merged" { value = merge(local.base, local.override) }
