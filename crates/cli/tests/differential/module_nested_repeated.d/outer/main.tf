variable "prefix" {}
module "inner" {
  source   = "../inner"
  for_each = toset(["p", "q"])
  label    = "${var.prefix}-${each.key}"
}
output "labels" { value = [for k, m in module.inner : m.label] }
