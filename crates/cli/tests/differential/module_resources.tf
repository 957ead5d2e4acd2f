module "m" {
  source = "./m"
  prefix = "p"
}
output "ids" { value = module.m.outputs }
