module "e" {
  source   = "./m"
  for_each = { a = 1, b = 2 }
  name     = each.key
  idx      = each.value
}
module "s" {
  source   = "./m"
  for_each = toset(["x", "y"])
  name     = each.value
}
output "by_key" { value = { for k, m in module.e : k => m.out } }
output "b" { value = module.e["b"].out }
output "whole" { value = module.e }
output "keys" { value = keys(module.s) }
