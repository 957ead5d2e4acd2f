variable "pw" {
  default   = "p@ss"
  sensitive = true
}
output "conn" {
  value     = { user = "admin", password = var.pw }
  sensitive = true
}
