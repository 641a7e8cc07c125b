output "function_arn" {
  description = "ARN of the function."
  value       = try(aws_lambda_function.this.arn, null)
}

output "function_name" {
  description = "Name of the function."
  value       = try(aws_lambda_function.this.function_name, null)
}

output "execution_role_arn" {
  description = "Execution role of the function."
  value       = try(aws_iam_role.execution.arn, null)
}

output "dead_letter_queue_arn" {
  description = "Queue receiving failed asynchronous invocations."
  value       = try(aws_sqs_queue.dead_letter.arn, null)
}
