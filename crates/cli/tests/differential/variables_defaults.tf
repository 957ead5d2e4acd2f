variable "obj" {
  type = object({
    name = string
    size = optional(number, 3)
    tags = optional(map(string), {})
  })
  default = { name = "x" }
}
output "obj" { value = var.obj }
