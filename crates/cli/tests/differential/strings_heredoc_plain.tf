output "h" {
  value = <<EOT
line one
  line two
EOT
}
