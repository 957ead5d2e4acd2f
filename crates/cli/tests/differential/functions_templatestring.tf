locals {
  greeting = "Hello, $${name}!%{ for n in items } [$${n}]%{ endfor }"
}
variable "tmpl" {
  default = "$${upper(who)} has $${length(things)} things"
}
output "rendered" { value = templatestring(local.greeting, { name = "terrane", items = [1, 2] }) }
output "from_var" { value = templatestring(var.tmpl, { who = "ann", things = ["a", "b", "c"] }) }
