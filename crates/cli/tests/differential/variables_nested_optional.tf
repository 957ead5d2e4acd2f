variable "cfg" {
  type = object({
    inner = optional(object({
      a = optional(string, "A")
      b = optional(number, 2)
    }), {})
  })
  default = {}
}
output "cfg" { value = var.cfg }
