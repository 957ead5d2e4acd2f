variable "name" {
  type     = string
  default  = "fallback"
  nullable = false
}
output "name" { value = var.name }
