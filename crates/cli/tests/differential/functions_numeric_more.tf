output "log" { value = log(8, 2) }
output "signum" { value = signum(-4) }
output "pow_frac" { value = pow(4, 0.5) }
output "max_list" { value = max([3, 9, 2]...) }
