locals {
  groups = { a = ["x", "y"], b = ["z"] }
}
output "pairs" { value = flatten([for g, items in local.groups : [for i in items : "${g}:${i}"]]) }
output "indexed" { value = [for i, v in ["p", "q"] : "${i}=${v}"] }
