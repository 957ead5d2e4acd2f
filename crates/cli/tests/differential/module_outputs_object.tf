module "m" {
  source = "./m"
  items  = { a = 1, b = 2 }
}
output "doubled" { value = module.m.doubled }
output "count" { value = length(module.m.doubled) }
