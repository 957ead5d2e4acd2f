output "host" { value = cidrhost("10.0.0.0/16", 5) }
output "subnet" { value = cidrsubnet("10.0.0.0/16", 8, 2) }
output "subnets" { value = cidrsubnets("10.0.0.0/16", 4, 4, 8) }
output "mask" { value = cidrnetmask("10.0.0.0/16") }
