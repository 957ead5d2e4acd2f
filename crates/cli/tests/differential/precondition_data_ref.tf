resource "terraform_data" "a" {
  input = "x"
}
resource "terraform_data" "b" {
  input = "y"
  lifecycle {
    precondition {
      condition     = terraform_data.a.output == "z"
      error_message = "a must be z"
    }
  }
}
