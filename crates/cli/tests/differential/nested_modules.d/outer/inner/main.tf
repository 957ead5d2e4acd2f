variable "value" {}
output "v" { value = "inner-${var.value}" }
