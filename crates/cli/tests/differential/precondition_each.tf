variable "sizes" {
  default = { a = 1, b = 2 }
}
resource "terraform_data" "r" {
  for_each = var.sizes
  input    = each.value
  lifecycle {
    precondition {
      condition     = each.value < 10
      error_message = "too big: ${each.key}"
    }
    postcondition {
      condition     = self.output == each.value
      error_message = "output differs"
    }
  }
}
output "o" { value = { for k, r in terraform_data.r : k => r.output } }
