variable "n" {
  default = 5
}
output "x" {
  value = var.n
  precondition {
    condition     = var.n < 3
    error_message = "n must be under 3"
  }
}
