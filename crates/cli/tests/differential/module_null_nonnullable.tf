module "m" {
  source = "./m"
  name   = null
}
output "name" { value = module.m.name }
