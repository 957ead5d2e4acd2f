locals {
  users = {
    alice = { admin = true, age = 30 }
    bob   = { admin = false, age = 25 }
  }
  admins = [for name, u in local.users : name if u.admin]
}
output "admins" { value = local.admins }
output "ages" { value = { for n, u in local.users : n => u.age } }
