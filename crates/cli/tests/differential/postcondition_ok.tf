resource "terraform_data" "r" {
  input = "abc"
  lifecycle {
    postcondition {
      condition     = length(self.output) == 3
      error_message = "three characters"
    }
  }
}
output "o" { value = terraform_data.r.output }
