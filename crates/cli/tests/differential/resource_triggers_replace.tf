resource "terraform_data" "t" {
  triggers_replace = ["a", 1]
  input            = "x"
}
output "o" { value = terraform_data.t.output }
