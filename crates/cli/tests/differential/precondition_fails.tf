variable "n" {
  default = 5
}
resource "terraform_data" "r" {
  input = var.n
  lifecycle {
    precondition {
      condition     = var.n < 3
      error_message = "n must be under 3"
    }
  }
}
