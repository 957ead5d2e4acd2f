output "max" { value = max(1, 5, 3) }
output "min" { value = min(1, 5, 3) }
output "abs" { value = abs(-3) }
output "ceil" { value = ceil(1.2) }
output "floor" { value = floor(1.8) }
output "pow" { value = pow(2, 10) }
output "parseint" { value = parseint("ff", 16) }
