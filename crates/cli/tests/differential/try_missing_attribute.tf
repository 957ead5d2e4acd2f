locals {
  obj = { a = 1 }
}
output "t" { value = try(local.obj.b, "none") }
output "lookup" { value = lookup(local.obj, "a", 0) }
