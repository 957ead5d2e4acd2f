variable "min" {
  default = 2
}
variable "n" {
  default = 5
  validation {
    condition     = var.n > var.min
    error_message = "n must exceed min"
  }
}
output "n" { value = var.n }
