variable "n" {
  type     = string
  default  = "fallback"
  nullable = false
}
output "n" { value = var.n }
