terraform {
  required_version = ">= 2.0"
}
output "x" { value = 1 }
