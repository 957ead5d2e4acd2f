output "base" { value = basename("/a/b/c.txt") }
output "dir" { value = dirname("/a/b/c.txt") }
output "mod" { value = path.module }
