locals {
  objs = [{ list = [1, 2] }, { list = [3, 4] }]
}
output "legacy" { value = local.objs.*.list[0] }
output "full" { value = local.objs[*].list[0] }
