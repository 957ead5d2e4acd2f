resource "terraform_data" "r" {
  input = "abcd"
  lifecycle {
    postcondition {
      condition     = length(self.output) == 3
      error_message = "three characters, not ${length(self.output)}"
    }
  }
}
