variable "on" {
  default = true
}
output "t" { value = "%{if var.on}enabled%{else}disabled%{endif}" }
output "t2" { value = "x%{if !var.on} never%{endif}y" }
