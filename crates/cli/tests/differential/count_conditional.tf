variable "enabled" {
  default = false
}
resource "terraform_data" "maybe" {
  count = var.enabled ? 1 : 0
  input = "x"
}
output "n" { value = length(terraform_data.maybe) }
output "first" { value = one(terraform_data.maybe[*].output) }
