output "sum" { value = 0.1 + 0.2 }
output "third" { value = 1 / 3 }
output "two_thirds" { value = 2 / 3 }
output "sum_fn" { value = sum([0.1, 0.2, 0.3]) }
output "equal" { value = 0.1 + 0.2 == 0.3 }
output "small_product" { value = 0.000001 * 0.000001 }
output "modulo" { value = 5 % 0.3 }
output "modulo_negative" { value = -7 % 3 }
output "float64_math" { value = pow(2, 0.5) }
output "float64_plus_literal" { value = pow(2, 0.5) + 1 }
output "float64_product" { value = pow(2, 0.5) * pow(2, 0.5) }
output "float64_sum" { value = sum([pow(2, 0.5), 1]) }
output "interpolated" { value = "${1 / 3}" }
output "formatted" { value = format("%v|%v|%v|%.3f|%e|%g|%.3g", 1234567, 0.00001, 0.1 + 0.2, 2 / 3, 12345.678, 1 / 3, 1 / 3) }
output "range" { value = range(0.1, 0.5, 0.1) }
output "rounding" { value = [floor(7.9), ceil(-7.1), abs(-0.5), max(0.1, 1e25, 3)] }
output "literal" { value = [123.456e2, 1e-3, -0.0, 123456789012345678901234567890.5] }
