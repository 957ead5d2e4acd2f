variable "who" {
  default = "world"
}
output "greeting" { value = "hello ${var.who}" }
