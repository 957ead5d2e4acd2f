variable "n" {
  default = 3
}
module "c" {
  source = "./m"
  count  = var.n
  name   = "c"
  idx    = count.index
}
module "none" {
  source = "./m"
  count  = 0
  name   = "never"
}
output "splat" { value = module.c[*].out }
output "first" { value = module.c[0].out }
output "whole" { value = module.c }
output "none" { value = module.none }
output "lengths" { value = [length(module.c), length(module.none)] }
