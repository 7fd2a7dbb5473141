import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { AppState } from './app.svelte';
import { createBackend } from './backend';

const target = document.getElementById('app')!;
createBackend().then(
  (backend) => {
    const app = new AppState(backend);
    mount(App, { target, props: { app } });
  },
  (e: unknown) => {
    target.textContent = `nuvosync cannot start its interface: ${e instanceof Error ? e.message : String(e)}`;
  },
);
