variable "name" {}
module "inner" {
  source = "./inner"
  value  = upper(var.name)
}
output "deep" { value = "outer(${module.inner.v})" }
