module "m" {
  source = "./mod"
}
output "from_module" { value = module.m.greeting }
