variable "l" {
  type    = list(number)
  default = ["1", "2"]
}
variable "m" {
  type    = map(string)
  default = { a = 1, b = true }
}
variable "s" {
  type    = set(string)
  default = ["b", "a", "b"]
}
output "l" { value = var.l }
output "m" { value = var.m }
output "s" { value = var.s }
