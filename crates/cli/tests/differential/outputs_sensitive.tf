variable "secret" {
  default   = "s3cr3t"
  sensitive = true
}
output "secret" {
  value     = var.secret
  sensitive = true
}
